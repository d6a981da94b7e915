// json-transform.js: input a JSON array of orders {id, customer, items: [{sku, qty, price}]};
// output per customer: order count and total, sorted by total descending (an object: JSON-encoded).
export default function (input) {
  const orders = JSON.parse(input);
  const byCustomer = new Map();
  for (const order of orders) {
    const total = order.items.reduce((sum, item) => sum + item.qty * item.price, 0);
    const entry = byCustomer.get(order.customer) ?? { customer: order.customer, orders: 0, total: 0 };
    entry.orders += 1;
    entry.total = Math.round((entry.total + total) * 100) / 100;
    byCustomer.set(order.customer, entry);
  }
  return { customers: [...byCustomer.values()].sort((a, b) => b.total - a.total) };
}
