/**
 * Where a pushed version came from, read from the usual CI environment variables (GitHub Actions,
 * GitLab CI, Buildkite, CircleCI, Jenkins). Flags given to `push` win over these.
 */
import type { PushSource } from "./publisher.js";

type Env = Readonly<Record<string, string | undefined>>;

function first(env: Env, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

function githubRunUrl(env: Env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}` : undefined;
}

export function sourceFromCiEnvironment(env: Env): PushSource {
  const commit = first(env, "GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1", "GIT_COMMIT");
  const pipeline =
    githubRunUrl(env) ?? first(env, "CI_PIPELINE_URL", "BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL", "BUILD_URL");
  const repository = first(
    env,
    "GITHUB_REPOSITORY",
    "CI_PROJECT_PATH",
    "BUILDKITE_REPO",
    "CIRCLE_PROJECT_REPONAME",
    "GIT_URL",
  );
  return {
    ...(commit ? { commit } : {}),
    ...(pipeline ? { pipeline } : {}),
    ...(repository ? { repository } : {}),
  };
}
