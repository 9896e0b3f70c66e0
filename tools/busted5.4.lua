-- Run busted inside the current interpreter (so a sanitizer preload or
-- valgrind sees this very process, not a re-exec).
require "busted.runner" ({ standalone = false })
