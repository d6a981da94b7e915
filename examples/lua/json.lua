-- A small JSON encoder: encodes a table built from the input (its words and their lengths).
local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function encode(value)
  local t = type(value)
  if t == "nil" then return "null" end
  if t == "boolean" then return tostring(value) end
  if t == "number" then
    if value ~= value or value == math.huge or value == -math.huge then error("cannot encode " .. tostring(value)) end
    if math.type(value) == "integer" then return string.format("%d", value) end
    return string.format("%.14g", value)
  end
  if t == "string" then
    return '"' .. value:gsub('[%c"\\]', function (c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
  end
  if t == "table" then
    local parts = {}
    if #value > 0 or next(value) == nil then
      for i = 1, #value do parts[i] = encode(value[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = encode(k) .. ":" .. encode(value[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. t)
end

return function (input)
  local words = {}
  for word in input:gmatch("%S+") do words[#words + 1] = { word = word, length = #word } end
  return encode({ input = input, count = #words, words = words, ok = true })
end
