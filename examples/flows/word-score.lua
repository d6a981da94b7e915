-- word-score.lua: the map step of the word-scores flow, run once per word. Input one word;
-- output its score, the sum of its letters' places in the alphabet (a = 1 ... z = 26).
return function (word)
  local score = 0
  for letter in word:lower():gmatch('%a') do
    score = score + letter:byte() - ('a'):byte() + 1
  end
  return score
end
