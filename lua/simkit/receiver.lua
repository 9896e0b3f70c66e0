--- Alias of `simkit.eiotclub.receiver` (the EIOTCLUB webhook receiver), kept
-- so that `require "simkit.receiver"` goes on working.
-- @module simkit.receiver
return require "simkit.eiotclub.receiver"
