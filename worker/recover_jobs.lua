-- One recovery pass over queue stripay: hand back jobs whose worker died, without spending a retry.
-- At most one pass runs per pass_ms across every worker (pass_lock is taken with NX and left to
-- expire). A job is handed back (LPUSH to the head of the queue, status queued, its retries left
-- untouched) when
--   * its started-registry entry (job_id:execution_id, scored with its lease's end) has expired:
--     the process running it stopped renewing the lease, or
--   * it sits on RQ's intermediate list without a started-registry entry on every pass for
--     stuck_s: the worker died between taking it off the queue and registering it.
-- A job whose hash is gone (expired, deleted) is only removed from both lists.
-- Also frees RQ's scheduler lock when its holder has not renewed it for scheduler_stale_ms.
-- Returns {handed_back_from_started, handed_back_from_intermediate, scheduler_lock_free (0/1)},
-- or {-1} when another worker ran a pass within pass_ms.
local pass_lock = KEYS[1]         -- stripay:recovery:lock
local queue_key = KEYS[2]         -- rq:queue:stripay
local intermediate_key = KEYS[3]  -- rq:queue:stripay:intermediate
local started_key = KEYS[4]       -- rq:wip:stripay (RQ's StartedJobRegistry)
local queues_set = KEYS[5]        -- rq:queues
local stuck_key = KEYS[6]         -- stripay:recovery:intermediate; hash job id -> first seen (s)
local scheduler_lock = KEYS[7]    -- rq:scheduler-lock:stripay
local now_text = ARGV[1]          -- the caller's clock, as RQ scores its registries (epoch s)
local pass_ms = ARGV[2]
local stuck_s = tonumber(ARGV[3])
local job_prefix = ARGV[4]        -- rq:job:
local execution_prefix = ARGV[5]  -- rq:execution:
local executions_prefix = ARGV[6] -- rq:executions: (per job: its executions)
local scheduler_lock_ttl_ms = tonumber(ARGV[7])
local scheduler_stale_ms = tonumber(ARGV[8])
local now = tonumber(now_text)

if not redis.call('SET', pass_lock, '1', 'NX', 'PX', pass_ms) then
  return {-1}
end

local settled = {finished = true, failed = true, scheduled = true, stopped = true, canceled = true,
                 deferred = true}

local function hand_back(job_id)
  redis.call('LREM', intermediate_key, 0, job_id)
  redis.call('HDEL', stuck_key, job_id)
  local job_key = job_prefix .. job_id
  local status = redis.call('HGET', job_key, 'status')
  if not status then
    return 0
  end
  if settled[status] or redis.call('LPOS', queue_key, job_id) then
    return 0  -- settled meanwhile, on the schedule, or already back on the queue
  end
  redis.call('HSET', job_key, 'status', 'queued')
  redis.call('LPUSH', queue_key, job_id)
  redis.call('SADD', queues_set, queue_key)
  return 1
end

-- Jobs whose lease ran out.
local from_started = 0
local expired = redis.call('ZRANGEBYSCORE', started_key, 0, now)
for _, entry in ipairs(expired) do
  redis.call('ZREM', started_key, entry)
  local job_id, execution_id = string.match(entry, '^(.*):([^:]*)$')
  if not job_id then
    job_id = entry
  else
    redis.call('DEL', execution_prefix .. entry)
    redis.call('ZREM', executions_prefix .. job_id, execution_id)
  end
  from_started = from_started + hand_back(job_id)
end

-- Jobs only on the intermediate list, seen there on every pass for stuck_s.
local registered = {}
for _, entry in ipairs(redis.call('ZRANGE', started_key, 0, -1)) do
  registered[string.match(entry, '^(.*):[^:]*$') or entry] = true
end
local previously = {}
local flat = redis.call('HGETALL', stuck_key)
for i = 1, #flat, 2 do
  previously[flat[i]] = flat[i + 1]
end
redis.call('DEL', stuck_key)
local from_intermediate = 0
for _, job_id in ipairs(redis.call('LRANGE', intermediate_key, 0, -1)) do
  if not registered[job_id] then
    local first_seen = previously[job_id]
    if first_seen and now - tonumber(first_seen) >= stuck_s then
      from_intermediate = from_intermediate + hand_back(job_id)
    else
      redis.call('HSET', stuck_key, job_id, first_seen or now_text)
    end
  end
end
if redis.call('EXISTS', stuck_key) == 1 then
  redis.call('PEXPIRE', stuck_key, 600000)
end

-- RQ's scheduler renews its lock every second to a 61 s TTL; one not renewed for a while is a
-- dead scheduler's, so free it for a live worker to take now rather than in a minute.
local lock_ttl = redis.call('PTTL', scheduler_lock)
if lock_ttl >= 0 and lock_ttl < scheduler_lock_ttl_ms - scheduler_stale_ms then
  redis.call('DEL', scheduler_lock)
  lock_ttl = -2
end
return {from_started, from_intermediate, lock_ttl == -2 and 1 or 0}
