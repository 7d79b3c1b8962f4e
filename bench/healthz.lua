-- wrk: GET /healthz, the reference for the submit rate.  /healthz goes through the core thread
-- like every API call but does no work and writes nothing, so its rate is the ceiling of the
-- HTTP layer and the hand-off to the core on this machine.
-- usage: wrk -t2 -c64 -d10s -s bench/healthz.lua http://127.0.0.1:PORT/healthz
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_report.lua")
