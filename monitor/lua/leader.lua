-- Take or keep the monitor leader lease.
-- KEYS[1] the leader key (string: the leader's token, with a PX expiry)
-- ARGV[1] this monitor's token, ARGV[2] lease ms
-- returns 1 when this monitor leads for the next lease, 0 when another one does
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
