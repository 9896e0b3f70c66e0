--- Alias of `simkit.eiotclub.cdr` (EIOTCLUB CDR files), kept so that
-- `require "simkit.cdr"` and `simkit.cdr` go on working.
-- @module simkit.cdr
return require "simkit.eiotclub.cdr"
