/** A piscina task that does nothing but return its input: the cost measured is the pool's own. */
export default function echo(x: unknown): unknown {
  return x;
}
