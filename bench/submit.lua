-- wrk: individual SubmitJob calls, unsigned (the server runs with --dev), or signed once (a
-- SigV4 signature holds for 15 minutes) for a server that checks keys:
--   BENCH_AUTHORIZATION, BENCH_AMZ_DATE  the Authorization and X-Amz-Date headers of this very
--                     request (Host, Content-Type and body included), signed by bench/run.py
--   BENCH_QUEUE       the job queue (default "hold")
--   BENCH_JOBDEF      the job definition (default "bench-true")
--   BENCH_IDS_OUT     when set, every BENCH_IDS_EVERY-th answered jobId (default 1000) is
--                     appended to BENCH_IDS_OUT.THREAD: a sample of known ids for DescribeJobs
-- usage: wrk -t2 -c64 -d10s -s bench/submit.lua http://127.0.0.1:PORT/v1/submitjob
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_report.lua")

local queue = os.getenv("BENCH_QUEUE") or "hold"
local jobdef = os.getenv("BENCH_JOBDEF") or "bench-true"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_AUTHORIZATION") then
   wrk.headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION")
   wrk.headers["X-Amz-Date"] = os.getenv("BENCH_AMZ_DATE")
end
wrk.body = string.format('{"jobName":"bench","jobQueue":"%s","jobDefinition":"%s"}', queue, jobdef)

local ids_out = os.getenv("BENCH_IDS_OUT")
if ids_out then
   local every = tonumber(os.getenv("BENCH_IDS_EVERY") or "1000")
   local threads, n = 0, 0
   local file
   function setup(thread)
      threads = threads + 1
      thread:set("thread_no", threads)
   end
   function init(args)
      file = io.open(ids_out .. "." .. tostring(thread_no), "a")
   end
   -- Only sampled answers are parsed; the rest cost a counter.
   function response(status, headers, body)
      n = n + 1
      if n % every == 0 and status == 200 then
         local id = body:match('"jobId":"([^"]+)"')
         if id then file:write(id, "\n"); file:flush() end
      end
   end
end
