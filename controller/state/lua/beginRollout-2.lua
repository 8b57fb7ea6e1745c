--[[
  Starts a rollout of a model: takes the rollout lock and records the rollout in the model state.
  A `rollout` left by a controller that died is overwritten: its lock has expired, or we would not
  get here. A progressive rollout between its steps holds no lock but is still running: refused.

  KEYS[1] model state (JSON)
  KEYS[2] rollout lock
  ARGV[1] lock owner token
  ARGV[2] lock TTL (ms)
  ARGV[3] the rollout (JSON)
  ARGV[4] the revision the caller expects, or "" for any

  Returns {status, state JSON}: 0 started, -1 another rollout holds the lock, -2 revision mismatch.
]]
if redis.call("EXISTS", KEYS[2]) == 1 then
  return {-1, redis.call("GET", KEYS[1]) or ""}
end
local raw = redis.call("GET", KEYS[1])
local state
if raw then
  state = cjson.decode(raw)
else
  state = {active = cjson.null, previous = cjson.null, revision = 0, rollout = cjson.null,
           updatedAt = cjson.null, updatedBy = cjson.null}
end
if state.rollout ~= cjson.null and state.rollout.phase == "progressing" then
  return {-1, raw}
end
if ARGV[4] ~= "" and tonumber(ARGV[4]) ~= state.revision then
  return {-2, raw or ""}
end
redis.call("SET", KEYS[2], ARGV[1], "PX", ARGV[2])
state.rollout = cjson.decode(ARGV[3])
local encoded = cjson.encode(state)
redis.call("SET", KEYS[1], encoded)
return {0, encoded}
