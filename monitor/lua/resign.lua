-- Give up the monitor leader lease, if this monitor holds it.
-- KEYS[1] the leader key
-- ARGV[1] this monitor's token
-- returns 1 when the lease was given up, 0 when another monitor held it
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
