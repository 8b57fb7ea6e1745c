--[[
  Releases the rollout lock if the caller still owns it (a progressive rollout between steps keeps
  its record in the model state and holds no lock).

  KEYS[1] rollout lock
  ARGV[1] lock owner token

  Returns 1 released, 0 not ours (expired or taken over).
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
