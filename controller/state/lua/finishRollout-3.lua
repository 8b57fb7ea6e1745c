--[[
  Ends a rollout, promoted or aborted: clears the model's `rollout` if it is still ours, appends
  the history entry (a capped stream) and releases the lock if we still own it.

  KEYS[1] model state (JSON)
  KEYS[2] rollout lock
  KEYS[3] history stream
  ARGV[1] lock owner token
  ARGV[2] rollout id
  ARGV[3] history entry (JSON)
  ARGV[4] history length cap (approximate)

  Returns 1 when the lock was still ours, 0 when it had expired or moved on.
]]
local raw = redis.call("GET", KEYS[1])
if raw then
  local state = cjson.decode(raw)
  if state.rollout ~= cjson.null and state.rollout.id == ARGV[2] then
    state.rollout = cjson.null
    redis.call("SET", KEYS[1], cjson.encode(state))
  end
end
redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[4], "*", "entry", ARGV[3])
if redis.call("GET", KEYS[2]) == ARGV[1] then
  redis.call("DEL", KEYS[2])
  return 1
end
return 0
