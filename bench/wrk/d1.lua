-- wrk driver for bench/d1.py. Arguments after `--`: scenario, data file, nonce.
-- boothcloud (License auth of the line's customer):
--   customers    GET  /api/customers/:id
--   photos       POST /api/photos              (a fresh client UUID)
--   printers     GET  /api/printers
--   photos_list  GET  /api/photos?limit=20
--   claim        POST /api/printers/:id/claim  (the printer's owner)
--   activate     POST /api/licenses/activations (one fingerprint per customer: 201, then 200)
-- the RFC-007 peer (no auth, as the RFC has none):
--   peer_customers  GET  /api/customers/:id
--   peer_photos     POST /api/photos          {id, customer_id}
--   peer_printers   GET  /api/printers?customer_id=
-- The data file has one `customer_id license_key [printer_id]` per line; every request
-- picks a random line. done() prints one line `BENCH_JSON {...}` that d1.py parses.

local rows = {}
local prebuilt = {}
local seq = 0
local nonce = "00000000"
local scenario = "customers"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local function photo_uuid()
  seq = seq + 1
  return string.format("%s-%04x-4%03x-8%03x-%012x",
    nonce, tid, math.random(0, 4095), math.random(0, 4095), seq)
end

function init(args)
  scenario, nonce = args[1], args[3]
  math.randomseed(os.time() * 100 + tid)
  for line in io.lines(args[2]) do
    local id, key, printer = line:match("^(%S+)%s+(%S+)%s*(%S*)$")
    if id then
      rows[#rows + 1] = { id = id, key = key, printer = printer }
    end
  end
  for i, row in ipairs(rows) do
    local auth = { ["Authorization"] = "License " .. row.key }
    if scenario == "customers" then
      prebuilt[i] = wrk.format("GET", "/api/customers/" .. row.id, auth)
    elseif scenario == "printers" then
      prebuilt[i] = wrk.format("GET", "/api/printers", auth)
    elseif scenario == "photos_list" then
      prebuilt[i] = wrk.format("GET", "/api/photos?limit=20", auth)
    elseif scenario == "claim" then
      prebuilt[i] = wrk.format("POST", "/api/printers/" .. row.printer .. "/claim", auth)
    elseif scenario == "activate" then
      prebuilt[i] = wrk.format("POST", "/api/licenses/activations",
        { ["Authorization"] = "License " .. row.key, ["Content-Type"] = "application/json" },
        '{"fingerprint":"bench-' .. row.id .. '"}')
    elseif scenario == "peer_customers" then
      prebuilt[i] = wrk.format("GET", "/api/customers/" .. row.id)
    elseif scenario == "peer_printers" then
      prebuilt[i] = wrk.format("GET", "/api/printers?customer_id=" .. row.id)
    end
  end
end

function request()
  local row = rows[math.random(#rows)]
  if scenario == "photos" then
    return wrk.format("POST", "/api/photos",
      { ["Authorization"] = "License " .. row.key, ["Content-Type"] = "application/json" },
      '{"id":"' .. photo_uuid() .. '"}')
  elseif scenario == "peer_photos" then
    return wrk.format("POST", "/api/photos", { ["Content-Type"] = "application/json" },
      '{"id":"' .. photo_uuid() .. '","customer_id":"' .. row.id .. '"}')
  end
  return prebuilt[math.random(#prebuilt)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
