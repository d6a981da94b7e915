-- shout.lua: ctx.invoke from Lua. Input a name; calls `visit-counter` (a js function) with it and
-- answers its greeting in capitals. The coroutine waits for the call (other functions run); a
-- callee's failure is a Lua error starting with its code, which pcall catches.
return function (input, ctx)
  local ok, greeting = pcall(ctx.invoke, 'visit-counter', input)
  if not ok then return 'could not greet: ' .. greeting:match('^(ERR_[A-Z_]+)') end
  return greeting:upper() .. '!'
end
