// words.js: the first step of the word-scores flow. Input a text; output its words, lower case,
// as a JSON array (the array the flow's map step fans out over).
export default function (input) {
  return JSON.stringify(input.toLowerCase().match(/[a-z]+/g) ?? []);
}
