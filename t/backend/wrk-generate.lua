-- wrk script: non-stream POST /api/generate (or another endpoint via env).
--   wrk -t1 -c50 -d10s -s t/backend/wrk-generate.lua http://127.0.0.1:11434/api/generate
-- Environment: WRK_MODEL (default llama3.2:3b), WRK_STREAM=1 for streaming,
-- WRK_BODY to send a body of your own.
local model = os.getenv("WRK_MODEL") or "llama3.2:3b"
local stream = os.getenv("WRK_STREAM") == "1" and "true" or "false"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY") or
  ('{"model":"' .. model .. '","prompt":"why is the sky blue?","stream":' .. stream .. '}')
