--- Alias of `simkit.eiotclub.notify` (EIOTCLUB notification signatures), kept
-- so that `require "simkit.notify"` and `simkit.notify` go on working.
-- @module simkit.notify
return require "simkit.eiotclub.notify"
