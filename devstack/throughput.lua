-- bench_throughput's wrk script: build every request, count the answers by class.
-- Arguments after wrk's "--": "plain" or "click", then a nonce unique to the measurement.
-- Every measurement, of the store or of bare Django, runs this same script, so wrk's own
-- cost per request (one request() and one response() call) is alike on both sides.

local threads = {}

function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   click = args[1] == "click"
   nonce = args[2] or ""
   separator = wrk.path:find("?", 1, true) and "&" or "?"
   sent, good, shed, other = 0, 0, 0, 0
end

function request()
   sent = sent + 1
   if click then
      -- A click id no request has carried before, as every ad click brings its own.
      local id = nonce .. "-" .. thread_id .. "-" .. sent
      return wrk.format(nil, wrk.path .. separator .. "gclid=" .. id)
   end
   return wrk.format(nil, wrk.path)
end

local function is_shed(headers)
   for name, _ in pairs(headers) do
      if name:lower() == "x-peakstore-shed" then
         return true
      end
   end
   return false
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      good = good + 1
   elseif status == 503 and is_shed(headers) then
      shed = shed + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local counted = {good = 0, shed = 0, other = 0}
   for _, thread in ipairs(threads) do
      for name, total in pairs(counted) do
         counted[name] = total + thread:get(name)
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'peakstore-bench {"good": %d, "shed": %d, "other": %d, "socket_errors": %d, '
         .. '"duration_us": %d, "p99_us": %d}\n',
      counted.good, counted.shed, counted.other,
      errors.connect + errors.read + errors.write + errors.timeout,
      summary.duration, latency:percentile(99)
   ))
end
