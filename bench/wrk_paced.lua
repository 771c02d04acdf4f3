-- Pace each wrk connection to BENCH_INTERVAL_MS between requests and print
-- the result as one machine-readable line (latencies in microseconds).
local interval = tonumber(os.getenv("BENCH_INTERVAL_MS") or "0")
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local key = os.getenv("BENCH_API_KEY") or ""
if key ~= "" then
  wrk.headers["X-API-Key"] = key
end

function delay()
  return interval
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p95=%d p99=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
