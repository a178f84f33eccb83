-- wrk script: POST a fixed JSON body and count answers by class.
-- Environment: BODY_FILE (the body), EXPECT (status counted as accepted, default 202),
-- STOP_AFTER (optional: each thread stops after this many accepted answers),
-- EXTRA_HEADERS (optional "Name: value|Name: value").
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local extra = os.getenv("EXTRA_HEADERS") or ""
  for name, value in extra:gmatch("([^:|]+):%s*([^|]*)") do
    wrk.headers[name] = value
  end
  expect = tonumber(os.getenv("EXPECT") or "202")
  stop_after = tonumber(os.getenv("STOP_AFTER") or "0")
  accepted = 0
  other = 0
end

function response(status, headers, body)
  if status == expect then
    accepted = accepted + 1
    if stop_after > 0 and accepted >= stop_after then
      wrk.thread:stop()
    end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("BENCH accepted=%d other=%d duration_us=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
    a, o, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
