-- Vary X-Real-IP over 65,536 clients, half with a verdict. The requests are
-- built once in init, so wrk spends its CPU sending them, not formatting
-- strings: on 2 cores wrk and the sidecar share the CPUs.
local reqs = {}
init = function(args)
  for n = 1, 65536 do
    local i = (n * 2654435761) % 2000000
    local x = (i * 2654435761) % 4294967296
    local ip = string.format("%d.%d.%d.%d", math.floor(x / 16777216), math.floor(x / 65536) % 256, math.floor(x / 256) % 256, x % 256)
    reqs[n] = wrk.format("GET", "/v1/authz", {["X-Real-IP"] = ip})
  end
end
local n = 0
request = function()
  n = n + 1
  return reqs[(n % 65536) + 1]
end
