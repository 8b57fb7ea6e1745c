--[[
  Takes the lock of a rollout recorded in the model state that no controller holds: a progressive
  rollout between its steps (a reconcile tick, promote, abort), or one whose controller died (its
  lock expired) and that a tick ends.

  KEYS[1] model state (JSON)
  KEYS[2] rollout lock
  ARGV[1] lock owner token
  ARGV[2] lock TTL (ms)
  ARGV[3] the rollout id expected, or "" for whichever is recorded

  Returns {status, state JSON}: 0 taken, -1 a controller holds the lock, -4 no such rollout.
]]
if redis.call("EXISTS", KEYS[2]) == 1 then
  return {-1, redis.call("GET", KEYS[1]) or ""}
end
local raw = redis.call("GET", KEYS[1])
if not raw then
  return {-4, ""}
end
local state = cjson.decode(raw)
if state.rollout == cjson.null or (ARGV[3] ~= "" and state.rollout.id ~= ARGV[3]) then
  return {-4, raw}
end
redis.call("SET", KEYS[2], ARGV[1], "PX", ARGV[2])
return {0, raw}
