--[[
  The promotion: one atomic step that makes the target active, the old active previous, and the
  revision one higher. Only the lock owner may do it, only for its own rollout, only at the
  revision it started from.

  KEYS[1] model state (JSON)
  KEYS[2] rollout lock
  ARGV[1] lock owner token
  ARGV[2] rollout id
  ARGV[3] the revision the rollout started from
  ARGV[4] target version
  ARGV[5] by (who)
  ARGV[6] now (ISO 8601)

  Returns {status, state JSON}: 0 promoted, -3 lock lost, -2 revision moved, -4 rollout replaced.
]]
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
  return {-3, redis.call("GET", KEYS[1]) or ""}
end
local raw = redis.call("GET", KEYS[1])
if not raw then
  return {-4, ""}
end
local state = cjson.decode(raw)
if state.revision ~= tonumber(ARGV[3]) then
  return {-2, raw}
end
if state.rollout == cjson.null or state.rollout.id ~= ARGV[2] then
  return {-4, raw}
end
state.previous = state.active
state.active = ARGV[4]
state.revision = state.revision + 1
state.rollout.phase = "promoting"
state.updatedAt = ARGV[6]
state.updatedBy = ARGV[5]
local encoded = cjson.encode(state)
redis.call("SET", KEYS[1], encoded)
return {0, encoded}
