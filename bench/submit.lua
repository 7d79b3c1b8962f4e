-- wrk: individual SubmitJob calls, unsigned (the server runs with --dev), or signed once (a
-- SigV4 signature holds for 15 minutes) for a server that checks keys:
--   BENCH_AUTHORIZATION, BENCH_AMZ_DATE  the Authorization and X-Amz-Date headers of this very
--                     request (Host, Content-Type and body included), signed by bench/run.py
--   BENCH_QUEUE       the job queue (default "hold")
--   BENCH_JOBDEF      the job definition (default "bench-true")
--   BENCH_SHARES      for a fair-share queue: each thread submits to share "share<N>", N its
--                     number modulo BENCH_SHARES
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

local shares = tonumber(os.getenv("BENCH_SHARES") or "0")
local ids_out = os.getenv("BENCH_IDS_OUT")
local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
end
local file
function init(args)
   if shares > 0 then
      -- A body per thread: the signed request (BENCH_AUTHORIZATION) is for the plain body only.
      wrk.body = string.format('{"jobName":"bench","jobQueue":"%s","jobDefinition":"%s",' ..
                               '"shareIdentifier":"share%d"}', queue, jobdef, thread_no % shares)
   end
   if ids_out then file = io.open(ids_out .. "." .. tostring(thread_no), "a") end
end

if ids_out then
   local every = tonumber(os.getenv("BENCH_IDS_EVERY") or "1000")
   local n = 0
   -- Only sampled answers are parsed; the rest cost a counter.
   function response(status, headers, body)
      n = n + 1
      if n % every == 0 and status == 200 then
         local id = body:match('"jobId":"([^"]+)"')
         if id then file:write(id, "\n"); file:flush() end
      end
   end
end
