/**
 * The Lua prelude: trusted Lua code run once in every Lua state (both engines) before any
 * function. It takes what it needs from the standard libraries into its own locals, empties the
 * state's globals, and returns `start`, the body of every invocation's coroutine:
 *
 *   start(factory, input)  -- factory is the function's chunk wrapped as `function (_ENV, ...)`
 *
 * `start` builds a fresh environment for the invocation (fresh copies of the library tables, so
 * nothing one invocation writes is seen by another), runs the chunk in it, calls the handler it
 * returns and converts the result to a string. doc/lua.md lists what the environment holds.
 *
 * Host functions, passed as the chunk's arguments (each engine implements them):
 *   host_log(line)                       print() output
 *   host_call(op, ...)                   records an asynchronous host call (fetch, invoke, kv.*: see
 *                                        host-call-bridge.ts); the caller then yields and is resumed
 *                                        with true and the answer's values, or false and an error
 *   host_clock()                         the invocation's CPU time, in seconds (os.clock)
 *   host_memory()                        the function's accounted memory, in KB (collectgarbage "count")
 *   host_bind(string_table, string_metatable_view)  the invocation's string library, for the host to
 *                                        install as the string metatable's __index while it runs
 *   host_killed()                        the message of a CPU or memory kill, or nil: every place a guest
 *                                        can catch an error (pcall, xpcall, coroutine.resume) raises it
 *                                        again, so a killed invocation cannot keep itself alive
 */
export const kPreludeSource = String.raw`
local host_log, host_call, host_clock, host_memory, host_bind, host_killed = ...
local G = _G
local type, tostring, error, select, pairs, rawget, setmetatable = type, tostring, error, select, pairs, rawget, setmetatable
local co_create, co_resume, co_yield, co_running, co_status, co_wrap, co_isyieldable, co_close =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.running, coroutine.status, coroutine.wrap, coroutine.isyieldable, coroutine.close
local raw_load, concat, pack, unpack, string_sub, string_find = load, table.concat, table.pack, table.unpack, string.sub, string.find
local tonumber = tonumber
local os_time, os_date, os_difftime = os.time, os.date, os.difftime
local libs = { string = string, table = table, math = math, utf8 = utf8 }
local raw_pcall, raw_xpcall = pcall, xpcall
local base = {}
for _, name in pairs({ 'assert', 'error', 'getmetatable', 'ipairs', 'next', 'pairs', 'pcall', 'rawequal',
                       'rawget', 'rawlen', 'rawset', 'select', 'tonumber', 'tostring', 'type', 'xpcall', '_VERSION' }) do
  base[name] = G[name]
end

-- Nothing ambient stays reachable through the state's own globals.
for name in pairs(G) do G[name] = nil end

local absent = {
  io = 'io is not available in springbok functions (no files): return your output instead',
  require = 'require is not available in springbok functions: a function is one self-contained chunk',
  package = 'package is not available in springbok functions: a function is one self-contained chunk',
  dofile = 'dofile is not available in springbok functions (no files)',
  loadfile = 'loadfile is not available in springbok functions (no files)',
  debug = 'debug is not available in springbok functions',
  warn = 'warn is not available in springbok functions: use print',
}
local function absent_global(_, name)
  local why = absent[name]
  if why then error(why, 2) end
  return nil
end
local function absent_os(_, name)
  error('os.' .. tostring(name) .. ' is not available in springbok functions (only os.time, os.clock, os.date and os.difftime are)', 2)
end
local function no_dump()
  error('string.dump is not available in springbok functions: they run source text only', 2)
end

-- After a kill, an error caught by the guest is raised again as soon as the catch returns.
local function unless_killed(...)
  local killed = host_killed()
  if killed then error(killed, 0) end
  return ...
end
local function pcall(f, ...) return unless_killed(raw_pcall(f, ...)) end
-- A kill is raised from the count hook, where hooks are off: a guest message handler called
-- then could loop forever unpreempted, so after a kill it is not called.
local function xpcall(f, handler, ...)
  return unless_killed(raw_xpcall(f, function(m)
    if host_killed() then return m end
    return handler(m)
  end, ...))
end
local function resume(co, ...) return unless_killed(co_resume(co, ...)) end

local function safe_setmetatable(t, mt)
  -- Finalizers run inside the collector, where hooks are off: no time limit could stop them.
  if type(mt) == 'table' and rawget(mt, '__gc') ~= nil then
    error('__gc metamethods are not available in springbok functions', 2)
  end
  return setmetatable(t, mt)
end

local function safe_collectgarbage(opt)
  opt = opt or 'collect'
  if opt == 'count' then return host_memory() end
  if opt == 'collect' or opt == 'step' then return 0 end
  if opt == 'isrunning' then return true end
  error("collectgarbage('" .. tostring(opt) .. "') is not available in springbok functions (only 'collect', 'step', 'count' and 'isrunning' are)", 2)
end

local function print(...)
  local parts = {}
  for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
  host_log(concat(parts, '\t'))
end

local function clock()
  return host_clock()
end

local function make_load(env)
  return function(chunk, name, mode, ...)
    if type(chunk) == 'function' then
      local parts, n = {}, 0
      while true do
        local piece = chunk()
        if piece == nil or piece == '' then break end
        if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
        n = n + 1
        parts[n] = piece
      end
      chunk = concat(parts)
      name = name or '=(load)'
    elseif type(chunk) ~= 'string' then
      error("bad argument #1 to 'load' (string expected, got " .. type(chunk) .. ')', 2)
    end
    if string_sub(chunk, 1, 1) == '\27' then
      return nil, 'attempt to load a binary chunk: springbok functions load source text only'
    end
    if select('#', ...) > 0 then return raw_load(chunk, name, 't', (...)) end
    return raw_load(chunk, name, 't', env)
  end
end

local function make_coroutine(main)
  return {
    create = co_create, resume = resume, status = co_status, wrap = co_wrap, close = co_close,
    -- The invocation's own coroutine is the guest's main thread: it cannot yield from it.
    running = function()
      local co = co_running()
      return co, co == main
    end,
    isyieldable = function() return co_running() ~= main and co_isyieldable() end,
    yield = function(...)
      if co_running() == main then error('attempt to yield from outside a coroutine', 2) end
      return co_yield(...)
    end,
  }
end

-- A host call from the invocation's own coroutine (a guest coroutine cannot be parked by the host).
-- A refusal is raised as "CODE: message" at the level of whoever called ctx.fetch, ctx.invoke or
-- ctx.kv.*: from Lua code with its position first, straight from pcall with the code first.
local function host_wait(main, what, ...)
  if co_running() ~= main then
    error(what .. " cannot be called inside a coroutine: call it from the function's main body", 3)
  end
  host_call(...)
  local r = pack(co_yield())
  if not r[1] then error(r[2], 3) end
  return r
end

local function check_string(value, what)
  if type(value) ~= 'string' then error(what .. ' must be a string, got ' .. type(value), 3) end
  return value
end

local function check_namespace(ns, what)
  if ns == nil then return false end
  return check_string(ns, what .. ': the namespace')
end

-- A list the host packed into one string (host-call-bridge.ts): each item "<length>:<bytes>".
local function unpack_list(packed)
  local items, at = {}, 1
  while at <= #packed do
    local colon = string_find(packed, ':', at, true)
    local length = tonumber(string_sub(packed, at, colon - 1))
    items[#items + 1] = string_sub(packed, colon + 1, colon + length)
    at = colon + length + 1
  end
  return items
end

local function make_kv(main)
  local kv = {}
  kv.get = function(key, ns)
    local r = host_wait(main, 'ctx.kv.get', 'kv.get', check_string(key, 'ctx.kv.get: the key'), check_namespace(ns, 'ctx.kv.get'))
    if r[2] then return r[3] end
    return nil
  end
  kv.put = function(key, value, ns)
    host_wait(main, 'ctx.kv.put', 'kv.put', check_string(key, 'ctx.kv.put: the key'), check_string(value, 'ctx.kv.put: the value'), check_namespace(ns, 'ctx.kv.put'))
  end
  kv.delete = function(key, ns)
    local r = host_wait(main, 'ctx.kv.delete', 'kv.delete', check_string(key, 'ctx.kv.delete: the key'), check_namespace(ns, 'ctx.kv.delete'))
    return r[2]
  end
  kv.list = function(prefix, ns)
    local r = host_wait(main, 'ctx.kv.list', 'kv.list', check_string(prefix or '', 'ctx.kv.list: the prefix'), check_namespace(ns, 'ctx.kv.list'))
    return unpack_list(r[2])
  end
  return kv
end

local function make_ctx(main)
  local ctx = {}
  ctx.invoke = function(a, b, c)
    local name, input = a, b
    if a == ctx then name, input = b, c end -- ctx:invoke(name, input) works too
    local r = host_wait(main, 'ctx.invoke', 'invoke', check_string(name, 'ctx.invoke: the name'), check_string(input or '', 'ctx.invoke: the input'))
    return r[2]
  end
  ctx.kv = make_kv(main)
  ctx.fetch = function(a, b, c)
    local url, opts = a, b
    if a == ctx then url, opts = b, c end -- ctx:fetch(url, opts) works too
    if type(url) ~= 'string' then error('ctx.fetch: url must be a string, got ' .. type(url), 2) end
    if opts ~= nil and type(opts) ~= 'table' then error('ctx.fetch: opts must be a table or nil, got ' .. type(opts), 2) end
    local method, body, flat = 'GET', false, {}
    if opts then
      method = opts.method or 'GET'
      if type(method) ~= 'string' then error('ctx.fetch: opts.method must be a string', 2) end
      if opts.body ~= nil then
        if type(opts.body) ~= 'string' then error('ctx.fetch: opts.body must be a string', 2) end
        body = opts.body
      end
      if opts.headers ~= nil then
        if type(opts.headers) ~= 'table' then error('ctx.fetch: opts.headers must be a table', 2) end
        local n = 0
        for k, v in pairs(opts.headers) do
          if type(k) ~= 'string' or type(v) ~= 'string' then error('ctx.fetch: header names and values must be strings', 2) end
          if n >= 200 then error('ctx.fetch: at most 100 headers', 2) end
          flat[n + 1], flat[n + 2], n = k, v, n + 2
        end
      end
    end
    local r = host_wait(main, 'ctx.fetch', 'fetch', url, method, body, unpack(flat))
    local headers, list = {}, unpack_list(r[4])
    for i = 1, #list, 2 do headers[list[i]] = list[i + 1] end
    return { status = r[2], body = r[3], headers = headers }
  end
  return ctx
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function new_env(main)
  local env = copy(base)
  env.print, env.setmetatable, env.collectgarbage = print, safe_setmetatable, safe_collectgarbage
  env.pcall, env.xpcall = pcall, xpcall
  env.load = make_load(env)
  env.string, env.table, env.math, env.utf8 = copy(libs.string), copy(libs.table), copy(libs.math), copy(libs.utf8)
  env.string.dump = no_dump
  env.coroutine = make_coroutine(main)
  env.os = setmetatable({ time = os_time, date = os_date, difftime = os_difftime, clock = clock }, { __index = absent_os })
  env._G = env
  setmetatable(env, { __index = absent_global })
  -- What getmetatable('') returns to this invocation: changing it changes nothing for anyone else.
  host_bind(env.string, { __index = env.string })
  return env
end

return function(factory, input)
  local main = co_running()
  local env = new_env(main)
  local handler = factory(env)
  if type(handler) ~= 'function' then
    error('the chunk must return a function (input, ctx); it returned ' .. (handler == nil and 'nothing' or 'a ' .. type(handler)), 0)
  end
  local out = handler(input, make_ctx(main))
  if out == nil then return '' end
  local t = type(out)
  if t == 'string' then return out end
  if t == 'number' then return tostring(out) end
  error('the function returned a ' .. t .. ': return a string, a number or nil', 0)
end
`;
