--[[
  Copies the durable pointer (from SSM) into the Redis working copy when Redis has fallen behind
  it, keeping any rollout in progress. A pointer that is not ahead of Redis changes nothing.

  KEYS[1] model state (JSON)
  ARGV[1] the durable pointer (JSON: active, previous, revision, updatedAt, updatedBy)

  Returns {1, state JSON} when Redis was updated, {0, state JSON or ""} otherwise.
]]
local pointer = cjson.decode(ARGV[1])
local raw = redis.call("GET", KEYS[1])
local state
if raw then
  state = cjson.decode(raw)
else
  state = {revision = -1, rollout = cjson.null}
end
if pointer.revision <= state.revision then
  return {0, raw or ""}
end
state.active = pointer.active
state.previous = pointer.previous
state.revision = pointer.revision
state.updatedAt = pointer.updatedAt
state.updatedBy = pointer.updatedBy
local encoded = cjson.encode(state)
redis.call("SET", KEYS[1], encoded)
return {1, encoded}
