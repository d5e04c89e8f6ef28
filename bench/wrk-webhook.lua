-- wrk script for POST /webhook and /webhooks/whatsapp (the URL's path), driven by
-- bench/ingest.ts.
--
-- Arguments after the URL: <bodies file> <start index> <thread count> <signature header>.
-- Each line of the bodies file is the signature header's value, one space, then the JSON
-- body, written up front by bench/lib/bodies.ts: signing here would measure wrk.
-- Thread k starts at start + k * (bodies / threads), so threads never send the same
-- body before wrapping around. done() prints one line, "BENCH_JSON {...}", which the
-- harness parses; it counts the requests each thread sent, answered or not, so that
-- rows committed for requests still in flight when wrk stopped are accounted for.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local path = args[1]
  local start = tonumber(args[2] or "0")
  local thread_count = tonumber(args[3] or "1")
  local header = args[4] or "X-Signature"
  local file = assert(io.open(path, "r"))
  reqs = {}
  -- Formatted once here, before wrk starts its clock, so that request() only indexes.
  for line in file:lines() do
    local space = line:find(" ", 1, true)
    local headers = { ["Content-Type"] = "application/json", [header] = line:sub(1, space - 1) }
    -- A nil path is the URL's.
    reqs[#reqs + 1] = wrk.format("POST", nil, headers, line:sub(space + 1))
  end
  file:close()
  assert(#reqs > 0, "no bodies in " .. path)
  local stride = math.floor(#reqs / thread_count)
  pos = (start + id * stride) % #reqs + 1
  sent = 0
  -- wrk calls thread 0's request() once before the run to check the request parses
  -- (script_verify_request); step back so that the first body sent is the one at start.
  if id == 0 then
    pos = (pos - 2) % #reqs + 1
    sent = -1
  end
end

function request()
  local r = reqs[pos]
  pos = pos % #reqs + 1
  sent = sent + 1
  return r
end

function done(summary, latency, requests)
  local sent_total = 0
  for _, t in ipairs(threads) do
    sent_total = sent_total + t:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"sent":%.0f,"non2xx":%.0f,'
      .. '"connect_errors":%.0f,"read_errors":%.0f,"write_errors":%.0f,"timeouts":%.0f,'
      .. '"p50_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,"max_us":%.0f}\n',
    summary.requests, summary.duration, sent_total, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max
  ))
end
