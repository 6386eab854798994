-- Remember a notification and queue its RQ job in one step: run by shared/notification_enqueuer.py,
-- its KEYS and ARGV from shared/jobs.py (NotificationJobs).
-- A remembered identity answers {0, its job id} and writes nothing; otherwise the job hash
-- is written, its id pushed on the queue, and the identity remembered last: a write that
-- fails inside the script leaves the identity unremembered, so Stripay's retry enqueues again.
local seen_key = KEYS[1]          -- stripay:seen:<identity>; value: the job id
local job_key = KEYS[2]           -- rq:job:<job id>
local queue_key = KEYS[3]         -- rq:queue:stripay
local queues_set = KEYS[4]        -- rq:queues
local dedupe_ttl_s = tonumber(ARGV[1])
local job_id = ARGV[2]
local template_json = ARGV[3]     -- the job hash's fields shared by every notification: a JSON list
local job_data = ARGV[4]          -- the job's "data" (function and arguments)
local now = ARGV[5]               -- created_at and enqueued_at, as RQ formats them
local description = ARGV[6]

local existing = redis.call('GET', seen_key)
if existing then
  return {0, existing}
end
redis.call('HSET', job_key, 'data', job_data, 'created_at', now, 'enqueued_at', now,
           'description', description, unpack(cjson.decode(template_json)))
redis.call('RPUSH', queue_key, job_id)
redis.call('SADD', queues_set, queue_key)
redis.call('SET', seen_key, job_id, 'EX', dedupe_ttl_s)
return {1, job_id}
