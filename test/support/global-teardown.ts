export default async function globalTeardown(): Promise<void> {
  const stops = (globalThis as { __stops?: (() => Promise<void>)[] }).__stops ?? [];
  for (const stop of stops.reverse()) await stop();
}
