-- Park a stage's message on the stage it waits for, unless that stage has ended meanwhile.
-- The ending of the awaited stage hands every parked message to its queue (hand_over.lua), so a waiter
-- starts the moment its input exists instead of polling for it.
-- KEYS[1] workflow_state:{workflow_id} (hash)
-- ARGV[1] the awaited stage's task_name
-- ARGV[2] the entry: queue, the waiting stage's task_name, Dramatiq redis message id, its lane ("priority|weight|client"
--         or empty; entries parked before lanes lack the field) and encoded message,
--         tab-separated
-- ARGV[3] the waiting stage's task_name (marked parked:{name}, so the monitor's pending sweep leaves it be)
-- returns 1 parked | 0 the awaited stage has ended (or is gone): run the waiter now
local status = redis.call('HGET', KEYS[1], 'status:' .. ARGV[1])
if status ~= 'PENDING' and status ~= 'RUNNING' and status ~= 'SCHEDULED' then
  return 0
end
local field = 'waiters:' .. ARGV[1]
local parked = redis.call('HGET', KEYS[1], field)
redis.call('HSET', KEYS[1], field, parked and (parked .. '\n' .. ARGV[2]) or ARGV[2], 'parked:' .. ARGV[3], ARGV[1])
return 1
