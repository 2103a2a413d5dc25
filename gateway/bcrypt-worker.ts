// Worker thread of PasswordVerifier (password-verifier.ts): bcrypt checks, one at a time, off the
// gateway's request loop.
import { parentPort } from "node:worker_threads";
import bcrypt from "bcryptjs";

export interface BcryptJob {
  id: number;
  password: string;
  hash: string;
}

export interface BcryptAnswer {
  id: number;
  match: boolean;
}

parentPort!.on("message", (job: BcryptJob) => {
  let match = false;
  try {
    match = bcrypt.compareSync(job.password, job.hash);
  } catch {
    // a malformed hash never matches
  }
  parentPort!.postMessage({ id: job.id, match } satisfies BcryptAnswer);
});
