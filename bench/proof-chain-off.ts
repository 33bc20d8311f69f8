/**
 * Stand-in for src/proof/chain.ts in the "chaining off" arm of bench/proof-chain.ts: the same
 * exports doing nothing, so that arm runs the real appendEvents and ingest minus the chain.
 */
export async function chainEvents(): Promise<void> {}
export async function chainStoredReports(): Promise<number> {
  return 0;
}
export async function chainPurge(): Promise<string[]> {
  return [];
}
