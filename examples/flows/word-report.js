// word-report.js: the last step of the word-scores flow, where its branches join. Input
// {"words": [...], "scores": [...]} (the words step's output and the map step's, item by item);
// output the number of words, the total score and the best word.
export default function (input) {
  const { words, scores } = JSON.parse(input);
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  const total = scores.reduce((sum, score) => sum + score, 0);
  return JSON.stringify({ words: words.length, total, best: words.length === 0 ? null : { word: words[best], score: scores[best] } });
}
