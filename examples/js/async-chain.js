// async-chain.js: an async function awaiting a chain of promises; output the words of the input,
// each transformed in its own async step, and the number of steps awaited.
const step = async (word, index) => {
  await null;
  return `${index}:${word.split('').reverse().join('')}`;
};

export default async function (input) {
  let steps = 0;
  const words = input.split(/\s+/).filter(Boolean);
  const results = [];
  for (const [index, word] of words.entries()) {
    results.push(await step(word, index).then((value) => { steps++; return value.toUpperCase(); }));
  }
  const all = await Promise.all(words.map((word) => Promise.resolve(word.length)));
  return { results, lengths: all, steps };
}
