-- Shared by the wrk scripts in bench/: at the end of a run, one line that bench/run.py reads.
--   WRK requests=N seconds=S per_second=R non2xx=N socket_errors=N p50_ms=X p99_ms=X max_ms=X
-- non2xx counts answers outside 200-399 (wrk's "status" errors); socket_errors adds up connect,
-- read, write and timeout errors.
function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WRK requests=%d seconds=%.3f per_second=%.1f non2xx=%d socket_errors=%d " ..
      "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
      summary.requests, secs, summary.requests / secs, e.status,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000))
end
