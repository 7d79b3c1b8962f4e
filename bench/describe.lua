-- wrk: DescribeJobs of one random known job per call.
--   BENCH_IDS   a file of job ids, one a line (required)
-- usage: BENCH_IDS=ids wrk -t1 -c1 -d10s -s bench/describe.lua http://127.0.0.1:PORT/v1/describejobs
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_report.lua")

local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   if #line > 0 then ids[#ids + 1] = line end
end
math.randomseed(os.time())

function request()
   local body = string.format('{"jobs":["%s"]}', ids[math.random(#ids)])
   return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
