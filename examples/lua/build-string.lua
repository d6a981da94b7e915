-- Builds a string piece by piece in a table buffer: "1,2,...,N" (input N, default 10).
return function (input)
  local n = tonumber(input) or 10
  local parts = {}
  for i = 1, n do parts[#parts + 1] = string.format("%d", i) end
  return table.concat(parts, ",")
end
