-- wrk script: POST a small chat completion (non-streamed) with a rotating prompt prefix.
local n = 0
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
request = function()
  n = n + 1
  local body = string.format('{"model":"sim-llama-8b","max_tokens":1,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely. Session %d."},{"role":"user","content":"Question number %d: what is the capital of France?"}]}', n % 64, n)
  return wrk.format(nil, nil, nil, body)
end
