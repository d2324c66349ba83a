"""The two Lua scripts of story assignment: a batch read and a batch write, each atomic.

Kept as Python strings so they ship inside the package. Key names are built by `Keys` in Python
and passed in, whole or as prefixes (and a suffix) from which the scripts compose a candidate
story's vector key (version, newline, profile JSON: a centroid per language) and a term's
posting key (so `Keys` stays the one place that names keys). Each article's part travels as
one JSON argument: packing hundreds of separate arguments cost more than running the scripts.

No WATCH: the read returns the index's sequence number, and the write refuses an article
(`conflict`) when one of its copy keys appeared, the joined story's version moved, or, for a new
story, another writer has since added to one of the postings the article read a story close
enough that the article might have joined it. The stamp log (one sorted set for the index:
"seq, story id, the terms it was newly posted under", scored by the sequence number of the
write, the newest STAMPS_KEPT kept; one ZADD a write rather than one a term) says which
stories arrived after the read under which terms; "close enough" is a plain cosine of the
article's vector (its new story's one centroid, in millionths) with one of that story's
centroids against the lowest score the article could join it with: its threshold across
languages for a centroid of another language, NEARBY_SHARE of its threshold for one of its
own (the retry's fresh document frequencies move a cosine by a few hundredths), less what
rounding to millionths can move. Conservative, so an unrelated story posted under a shared
word costs no retry, and a related one always does. Stories of the same
write call do not count (the client already decided the round's articles one after another),
and when the sequence number has not moved since the read no other writer wrote, so nothing is
checked.

Cost: Redis runs each command a script calls at a few microseconds of overhead on top of the
command itself, so the scripts call as few as they can: the read fetches a term's postings over
one time range once a call (the articles of a round share terms), the document frequencies of
the round's terms once a call (not per article: it was twice the calls of the postings), sends
a candidate's profile once a call and takes the candidates of a tied count by one scan (a full
sort with a Lua comparator cost more than the rest of the read); the write stamps once a write,
reads a story's version with GETRANGE (not its whole profile) and adds a member to a story's
JSON as text when the story is laid out as `story_to_json` writes it (decoding and encoding
every member grows with the story: about 70 us at six members; another layout is decoded as
before), and sends that JSON back only to a caller that does not hold the story as it was (a
join of a story of hundreds of members cost its size in the reply and in parsing it, every
time).
"""

from __future__ import annotations

# ARGV: 1 sequence key, 2 per_term, 3 max_candidates, 4 max_lsh, 5 vec_pre, 6 vec_suf,
#       7 term_pre, 8 the round's document frequencies wanted: JSON [[day hashes], [terms]]
#       for each range of days; then one JSON object per article: {copy: [keys], lsh: [day
#       hashes], tmin, tmax (null: undated), bands: [fields], salient: [terms]}
# Returns {seq, {{article count, {df...}} for each range}, result...}, each result {"copy",
#         story_id, kind} or {"ok", signatures, {id, "version\nprofile"}...}; a candidate
#         already sent to an earlier article of the call comes as its id and "" (same text).
READ = """
local per_term, max_cand, max_lsh = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local vec_pre, vec_suf, term_pre = ARGV[5], ARGV[6], ARGV[7]

local read_postings, undated, sent = {}, {}, {}  -- this call's: postings read, profiles sent

local function memo(t, k)  -- the table under t[k], made if missing
  local sub = t[k]
  if not sub then
    sub = {}
    t[k] = sub
  end
  return sub
end

local function read(p)
  for _, key in ipairs(p.copy) do
    local id = redis.call('GET', key)
    if id then return {'copy', id, string.match(key, ':seen:([^:]+):') or 'key'} end
  end
  local hits, sigs, seen = {}, {}, {}
  if #p.bands > 0 then
    for _, key in ipairs(p.lsh) do
      for _, aid in ipairs(redis.call('HMGET', key, unpack(p.bands))) do
        if aid and not seen[aid] and #sigs < max_lsh then
          seen[aid] = true
          local record = redis.call('HGET', key, 's:' .. aid)
          if record then
            sigs[#sigs + 1] = record
            local sid = string.match(record, '^([^\\t]*)')
            hits[sid] = (hits[sid] or 0) + 1000
          end
        end
      end
    end
  end
  local dated = p.tmin ~= cjson.null
  -- a term's postings over one time range are read once a call (the articles of a round
  -- share terms and, often, times): by term, then the exact numbers of the range
  local ranges = dated and memo(memo(read_postings, p.tmin), p.tmax) or memo(undated, 0)
  for _, term in ipairs(p.salient) do
    local ids = ranges[term]
    if not ids then
      if dated then
        ids = redis.call('ZREVRANGEBYSCORE', term_pre .. term, p.tmax, p.tmin, 'LIMIT', 0,
                         per_term)
      else
        ids = redis.call('ZREVRANGE', term_pre .. term, 0, per_term - 1)
      end
      ranges[term] = ids
    end
    for _, id in ipairs(ids) do hits[id] = (hits[id] or 0) + 1 end
  end
  -- the max_cand stories with the most hits; hundreds tie, so bucket them and sort counts,
  -- then the ids of the buckets taken
  local buckets, counts, chosen = {}, {}, {}
  for id, n in pairs(hits) do
    local bucket = buckets[n]
    if not bucket then
      bucket = {}
      buckets[n] = bucket
      counts[#counts + 1] = n
    end
    bucket[#bucket + 1] = id
  end
  table.sort(counts)
  for c = #counts, 1, -1 do
    local need = max_cand - #chosen
    if need == 0 then break end
    -- ids start with the day: the newest (greatest) first, a stable choice among ties
    -- whatever the table order; the `need` greatest kept in order as the bucket is scanned
    -- (a bucket holds up to a hundred ids, a full sort cost more than the rest of the read)
    local top = {}
    for _, id in ipairs(buckets[counts[c]]) do
      local n = #top
      if n < need or id > top[n] then
        local k = n < need and n + 1 or n
        while k > 1 and top[k - 1] < id do
          top[k] = top[k - 1]
          k = k - 1
        end
        top[k] = id
      end
    end
    for _, id in ipairs(top) do chosen[#chosen + 1] = id end
  end
  local cands = {}
  for _, id in ipairs(chosen) do
    local profile = sent[id]
    if profile == nil then  -- first asked for in this call: read it and send it
      profile = redis.call('GET', vec_pre .. id .. vec_suf) or false
      sent[id] = profile
      if profile then
        cands[#cands + 1] = id
        cands[#cands + 1] = profile
      end
    elseif profile then  -- an earlier article of the call was sent it: the id alone
      cands[#cands + 1] = id
      cands[#cands + 1] = ''
    end
  end
  return {'ok', sigs, cands}
end

-- a range of days' article count and its terms' counts (HMGET 1000 at most: unpack's limit)
local function frequencies(days, terms)
  local df, total = {}, 0
  for j = 1, #terms do df[j] = 0 end
  for _, key in ipairs(days) do
    total = total + (tonumber(redis.call('HGET', key, '#n')) or 0)
    for first = 1, #terms, 1000 do
      local last = math.min(first + 999, #terms)
      local vals = redis.call('HMGET', key, unpack(terms, first, last))
      for j = first, last do df[j] = df[j] + (tonumber(vals[j - first + 1]) or 0) end
    end
  end
  return {total, df}
end

local counted = {}
for g, ask in ipairs(cjson.decode(ARGV[8])) do counted[g] = frequencies(ask[1], ask[2]) end
local out = {redis.call('GET', ARGV[1]) or '0', counted}
for i = 9, #ARGV do out[#out + 1] = read(cjson.decode(ARGV[i])) end
return out
"""

# ARGV: 1 sequence key, 2 stories key, 3 updated and first-seen time, 4 story ttl, 5 window,
#       6 copy-key ttl, 7 postings kept, 8 term_pre, 9 stamp log key, 10 stamps kept,
#       11 vec_pre, 12 vec_suf, then three per article:
#       a JSON object {v: expected version (0 = new story), id, t: article time or null,
#       score: posting score, seq: sequence number read, aid: article id, sig: signature
#       record or "", bands, salient (read: checked for newer stories), posted (the terms
#       the story is posted under), terms (counted for IDF), copy: [keys],
#       keys: {story, vec, lsh, df}, for a new story lang: its language, floor and
#       cross: the cosines below which a centroid of its language, of another language cannot
#       take it, and for a join known: the story's time of update (as stored) in the version
#       the caller holds (absent: none), chain: true when that version is the one an earlier
#       write of the call makes}, the story's profile JSON (a new story's one centroid is the
#       article's vector), and the JSON of the new story (v = 0) or of the joining article
# Returns one result per article: {"ok", story JSON}, {"ok"} when the caller holds the story
# (a new story; a join whose `known` story is the one stored, or the chain's: the caller
# appends the member itself) or {"conflict", why}.
WRITE = """
local seq_key, stories = ARGV[1], ARGV[2]
local now, ttl, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now_text = ARGV[3]
local seen_ttl, kept = tonumber(ARGV[6]), tonumber(ARGV[7])
local term_pre, stamp_log, stamps = ARGV[8], ARGV[9], tonumber(ARGV[10])
local vec_pre, vec_suf = ARGV[11], ARGV[12]
local df, day_keys, posted = {}, {}, {}  -- written once at the end
local mine, checked = {}, {}  -- stories this call wrote; stories already found not close
local since = {}  -- sequence number read -> term -> the stories stamped under it since
local before = tonumber(redis.call('GET', seq_key) or '0')  -- no writer since a read of this

local function cosine(vec, weights)  -- both in millionths
  local sum = 0
  for term, weight in pairs(vec) do
    local w = weights[term]
    if type(w) == 'number' then sum = sum + weight * w / 1000000000000 end
  end
  return sum
end

local decoded = {}  -- story id -> its centroids, decoded once a call (or false: gone)

local function close(a, id)  -- any of the story's centroids (one per language) close enough
  local weights = decoded[id]
  if weights == nil then
    local stored = redis.call('GET', vec_pre .. id .. vec_suf)
    local newline = stored and string.find(stored, '\\n', 1, true)
    weights = newline and (cjson.decode(string.sub(stored, newline + 1)).w or {}) or false
    decoded[id] = weights
  end
  if not weights then return false end
  if cosine(a.vec, weights) >= a.cross then return true end  -- a single (older) centroid
  for lang, centroid in pairs(weights) do
    if type(centroid) == 'table' then  -- its own language's bar, or the lower one across
      local floor = (lang == a.lang or lang == '*') and a.floor or a.cross
      if cosine(a.vec, centroid) >= floor then return true end
    end
  end
  return false
end

local function stamps_after(seq)  -- nil when the log may have been trimmed past `seq`
  local found = since[seq]
  if found == nil then
    local newer = redis.call('ZRANGEBYSCORE', stamp_log, '(' .. seq, '+inf')
    found = false
    if #newer < stamps then
      found = {}
      for _, stamp in ipairs(newer) do  -- "seq<TAB>id<TAB>term<TAB>term..."
        local k, id = 0, nil
        for field in string.gmatch(stamp, '[^\t]+') do
          k = k + 1
          if k == 2 then
            id = field
          elseif k > 2 then
            local ids = found[field]
            if not ids then
              ids = {}
              found[field] = ids
            end
            ids[#ids + 1] = id
          end
        end
      end
    end
    since[seq] = found
  end
  return found or nil
end

local none = {}

local function newer_story_close(a, profile)
  local newer = stamps_after(a.seq)
  if not newer then
    return true  -- stamps may have been trimmed past the read: cannot tell, assume the worst
  end
  local vec
  for _, term in ipairs(a.salient) do
    for _, id in ipairs(newer[term] or none) do
      if not mine[id] and not checked[id] then
        if not vec then  -- the new story's one centroid: the article's own vector
          for _, centroid in pairs(cjson.decode(profile).w) do vec = centroid end
          a.vec = vec  -- the floors less what rounding to millionths moved
          a.floor, a.cross = a.floor - 0.0001, a.cross - 0.0001
        end
        if close(a, id) then return true end
        checked[id] = true
      end
    end
  end
  return false
end

local function refuse(a, profile)
  for _, key in ipairs(a.copy) do
    if redis.call('EXISTS', key) == 1 then return 'copy' end
  end
  local current = 0
  local stored = redis.call('GETRANGE', a.keys.vec, 0, 19)  -- the version, not the profile
  if stored ~= '' then current = tonumber(string.match(stored, '^(%d+)\\n') or '-1') end
  if current ~= a.v then return 'version' end
  if a.v == 0 and before > a.seq then  -- another writer wrote after this article's read
    checked = {}
    if newer_story_close(a, profile) then return 'new story nearby' end
  end
  return nil
end

-- the story with one more article, edited as text when it is laid out as story_to_json
-- writes it (its fields, then the articles): no decoding and encoding of every member; and
-- its time of update before (as text)
local function appended(raw, a, payload)
  local at = string.find(raw, ', "articles": [', 1, true)
  if not at or string.sub(raw, -2) ~= ']}' then return nil end
  local head, updated, version, time = string.match(string.sub(raw, 1, at - 1),
    '^(.*), "updated": ([^,]+), "version": (%d+), "time": ([^,]+)$')
  if not head or tonumber(version) ~= a.v then return nil end
  if a.t ~= cjson.null and (time == 'null' or a.t < tonumber(time)) then
    time = string.format('%.17g', a.t)
  end
  return head .. ', "updated": ' .. now_text .. ', "version": ' .. (a.v + 1) ..
    ', "time": ' .. time .. string.sub(raw, at, -3) .. ', ' .. payload .. ']}', updated
end

-- the story's new JSON, and whether the caller holds the story as it was (a new story's
-- own; one laid out as story_to_json writes it, at the version and time of update the
-- caller has: `known`), so that its JSON plus the member is the new one
local function story_json(a, payload)
  if a.v == 0 then return payload, true end
  local raw = redis.call('GET', a.keys.story)
  if not raw then return nil end
  local edited, updated = appended(raw, a, payload)
  if edited then return edited, updated == a.known end
  local story = cjson.decode(raw)  -- stored by cjson (an earlier version of this script)
  table.insert(story.articles, cjson.decode(payload))
  story.version = a.v + 1
  story.updated = now
  if a.t ~= cjson.null then
    if story.time == cjson.null or story.time == nil or a.t < story.time then story.time = a.t end
  end
  return cjson.encode(story), false
end

local function write(a, profile, payload)
  local why = refuse(a, profile)
  if why then return {'conflict', why} end
  local json, held = story_json(a, payload)
  if not json then return {'conflict', 'gone'} end
  local chained = mine[a.id]  -- an earlier write of this call made the version joined
  local seq = redis.call('INCR', seq_key)
  mine[a.id] = true
  redis.call('SET', a.keys.story, json, 'EX', ttl)
  redis.call('SET', a.keys.vec, (a.v + 1) .. '\\n' .. profile, 'EX', ttl)
  if a.v == 0 then redis.call('ZADD', stories, now, a.id) end
  local stamp = {seq, a.id}
  for _, term in ipairs(a.posted) do
    local key = term_pre .. term
    if redis.call('ZADD', key, a.score, a.id) == 1 then
      stamp[#stamp + 1] = term
      if seq % 8 == 0 then redis.call('ZREMRANGEBYRANK', key, 0, -kept - 1) end
      posted[key] = true  -- a posting is found only within the window of its story's start
    end
  end
  if #stamp > 2 then  -- one stamp a write: the story and the terms it is newly posted under
    redis.call('ZADD', stamp_log, seq, table.concat(stamp, '\t'))
    if seq % 8 == 0 then redis.call('ZREMRANGEBYRANK', stamp_log, 0, -stamps - 1) end
  end
  for _, key in ipairs(a.copy) do redis.call('SET', key, a.id, 'EX', seen_ttl, 'NX') end
  if a.sig ~= '' then
    local fields = {'s:' .. a.aid, a.sig}
    for _, band in ipairs(a.bands) do
      fields[#fields + 1] = band
      fields[#fields + 1] = a.aid
    end
    redis.call('HSET', a.keys.lsh, unpack(fields))
    day_keys[a.keys.lsh] = true
  end
  local counts = df[a.keys.df]
  if not counts then
    counts = {}
    df[a.keys.df] = counts
  end
  counts['#n'] = (counts['#n'] or 0) + 1
  for _, term in ipairs(a.terms) do counts[term] = (counts[term] or 0) + 1 end
  if held and (a.v == 0 or not a.chain or chained) then return {'ok'} end
  return {'ok', json}
end

local out = {}
for i = 13, #ARGV, 3 do out[#out + 1] = write(cjson.decode(ARGV[i]), ARGV[i + 1], ARGV[i + 2]) end
for key, counts in pairs(df) do  -- document frequencies, one HINCRBY per term and day
  for term, n in pairs(counts) do redis.call('HINCRBY', key, term, n) end
  day_keys[key] = true
end
for key in pairs(day_keys) do redis.call('EXPIRE', key, window + 86400) end
for key in pairs(posted) do redis.call('EXPIRE', key, window) end
if next(posted) then redis.call('EXPIRE', stamp_log, 3600) end
redis.call('ZREMRANGEBYSCORE', stories, '-inf', now - ttl)
return out
"""
