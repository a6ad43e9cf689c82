-- wrk driver for bench/run.py. Arguments after `--`: scenario, data file, nonce.
--   customers: GET  /api/customers/:id          (License auth of that customer)
--   validate:  POST /api/licenses/validate       (a random valid key in the body)
--   photos:    POST /api/photos                  (License auth, a fresh client UUID)
--   claim:     POST /api/printers/:id/claim      (License auth of the printer's owner)
-- The data file has one `customer_id license_key [printer_id]` per line; every request
-- picks a random line, so the load spreads over thousands of customers and keys.
-- run.py prepends `COUNT_STATUSES = true` to count statuses (see below).
-- done() prints one line `BENCH_JSON {...}` that run.py parses.

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local rows = {}
local prebuilt = {}
local seq = 0
local nonce = "00000000"
local scenario = "customers"
n204 = 0
n200 = 0
n201 = 0

local function photo_uuid()
  -- Unique per request: run nonce (8 hex), thread (4 hex), counter (12 hex); UUIDv4 bits.
  seq = seq + 1
  return string.format(
    "%s-%04x-4%03x-8%03x-%012x",
    nonce, tid, math.random(0, 4095), math.random(0, 4095), seq
  )
end

function init(args)
  scenario = args[1]
  nonce = args[3]
  math.randomseed(os.time() * 100 + tid)
  for line in io.lines(args[2]) do
    local id, key, printer = line:match("^(%S+)%s+(%S+)%s*(%S*)$")
    if id then
      rows[#rows + 1] = { id = id, key = key, printer = printer }
    end
  end
  for i, row in ipairs(rows) do
    if scenario == "customers" then
      prebuilt[i] = wrk.format("GET", "/api/customers/" .. row.id,
        { ["Authorization"] = "License " .. row.key })
    elseif scenario == "validate" then
      prebuilt[i] = wrk.format("POST", "/api/licenses/validate",
        { ["Content-Type"] = "application/json" },
        '{"license_key":"' .. row.key .. '"}')
    elseif scenario == "claim" then
      prebuilt[i] = wrk.format("POST", "/api/printers/" .. row.printer .. "/claim",
        { ["Authorization"] = "License " .. row.key })
    end
  end
end

-- wrk decides from the main script state whether to call response(), so it must be
-- defined at top level; run.py sets COUNT_STATUSES only where the split matters (photos:
-- 201 vs 200 replays, claim: 200 vs 204 empty queue), since parsing costs wrk CPU.
if COUNT_STATUSES then
  function response(status, headers, body)
    if status == 204 then
      n204 = n204 + 1
    elseif status == 200 then
      n200 = n200 + 1
    elseif status == 201 then
      n201 = n201 + 1
    end
  end
end

function request()
  if scenario == "photos" then
    local row = rows[math.random(#rows)]
    return wrk.format("POST", "/api/photos",
      { ["Authorization"] = "License " .. row.key, ["Content-Type"] = "application/json" },
      '{"id":"' .. photo_uuid() .. '"}')
  end
  return prebuilt[math.random(#prebuilt)]
end

function done(summary, latency, requests)
  local c200, c201, c204 = 0, 0, 0
  for _, t in ipairs(threads) do
    c200 = c200 + (t:get("n200") or 0)
    c201 = c201 + (t:get("n201") or 0)
    c204 = c204 + (t:get("n204") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"counted":{"200":%d,"201":%d,"204":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout,
    c200, c201, c204))
end
