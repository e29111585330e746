-- wrk script: POST /v1/route decisions with an 8 KiB prompt and rotating prefixes.
local n = 0
local filler = string.rep("All work and no play makes a dull model. ", 200)
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
request = function()
  n = n + 1
  local body = string.format('{"model":"sim-llama-8b","messages":[{"role":"system","content":"Tenant %d. %s"},{"role":"user","content":"q%d"}]}', n % 128, filler, n)
  return wrk.format(nil, "/v1/route", nil, body)
end
