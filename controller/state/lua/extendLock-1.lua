--[[
  Renews the rollout lock, only for its owner.

  KEYS[1] rollout lock
  ARGV[1] lock owner token
  ARGV[2] TTL (ms)

  Returns 1 renewed, 0 the lock is gone or someone else's.
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
