--[[
  Rewrites the model's rollout record (a progressive rollout's weight, step, bake, analysis) while
  the caller holds the lock and the recorded rollout is still its own. The pointer (active,
  previous, revision) is untouched.

  KEYS[1] model state (JSON)
  KEYS[2] rollout lock
  ARGV[1] lock owner token
  ARGV[2] rollout id
  ARGV[3] the new rollout record (JSON; no empty arrays: cjson would write them as {})

  Returns {status, state JSON}: 0 written, -3 lock lost, -4 rollout replaced or gone.
]]
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
  return {-3, redis.call("GET", KEYS[1]) or ""}
end
local raw = redis.call("GET", KEYS[1])
if not raw then
  return {-4, ""}
end
local state = cjson.decode(raw)
if state.rollout == cjson.null or state.rollout.id ~= ARGV[2] then
  return {-4, raw}
end
state.rollout = cjson.decode(ARGV[3])
local encoded = cjson.encode(state)
redis.call("SET", KEYS[1], encoded)
return {0, encoded}
