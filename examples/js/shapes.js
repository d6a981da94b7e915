// shapes.js: a class-heavy function. Input a JSON list of shapes ({kind, ...dimensions});
// output each shape's description and the total area, via a small class hierarchy.
class Shape {
  #name;
  constructor (name) { this.#name = name; }
  get name () { return this.#name; }
  area () { throw new Error(`${this.constructor.name} must implement area()`); }
  describe () { return `${this.name} with area ${this.area().toFixed(2)}`; }
  static from (spec) {
    const Kind = Shape.kinds.get(spec.kind);
    if (Kind === undefined) throw new TypeError(`unknown shape kind: ${spec.kind}`);
    return new Kind(spec);
  }

  static kinds = new Map();

  static register (kind, Class) { Shape.kinds.set(kind, Class); }
}

class Circle extends Shape {
  constructor ({ r }) { super('circle'); this.r = r; }
  area () { return Math.PI * this.r ** 2; }
}

class Rectangle extends Shape {
  constructor ({ w, h }) { super('rectangle'); this.w = w; this.h = h; }
  area () { return this.w * this.h; }
}

class Square extends Rectangle {
  constructor ({ side }) { super({ w: side, h: side }); }
  get name () { return 'square'; }
}

Shape.register('circle', Circle);
Shape.register('rectangle', Rectangle);
Shape.register('square', Square);

export default function (input) {
  const shapes = JSON.parse(input).map((spec) => Shape.from(spec));
  const total = shapes.reduce((sum, shape) => sum + shape.area(), 0);
  return { shapes: shapes.map((shape) => shape.describe()), total: Math.round(total * 100) / 100, squaresAreRectangles: shapes.filter((s) => s instanceof Rectangle).length };
}
