--- Deprecated name of `simkit.eiotclub.orders` (EIOTCLUB-only), kept as an alias.
-- @module simkit.orders
return require "simkit.eiotclub.orders"
