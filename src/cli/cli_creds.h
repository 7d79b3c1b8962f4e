/* cli_creds — who the CLI signs as, found where the AWS CLI and SDKs look, in their order:
 *
 *   1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), unless --profile
 *      names a profile: an explicit profile passes over them, as the AWS CLI's --profile does;
 *   2. the profile --profile or AWS_PROFILE names, or "default", of the shared files
 *      (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, then AWS_CONFIG_FILE or
 *      ~/.aws/config): its keys, or what its credential_process prints (run again before
 *      they expire); a profile named and not found is an error, as for the AWS CLI;
 *   3. the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, or _RELATIVE_URI
 *      on ECS's 169.254.170.2, with AWS_CONTAINER_AUTHORIZATION_TOKEN or its _FILE): what a job
 *      with a jobRoleArn is given, so that `barge submit` in a job runs as the job's role;
 *   4. barge / barge, which a server in --dev takes.
 *
 * One of the two keys set without the other is an error rather than a default filled in. */
#ifndef BARGE_CLI_CREDS_H
#define BARGE_CLI_CREDS_H

typedef struct cli_creds {
    const char *key, *secret, *token; /* token NULL without temporary credentials */
    /* Where they came from, for messages: "$AWS_ACCESS_KEY_ID", a profile's line, the
     * container credentials. */
    const char *key_from, *secret_from, *token_from;
    int is_default;       /* none were found: barge / barge, which --dev takes */
    long long expire_ms;  /* epoch ms the container's credentials expire; 0: they do not */
    char *owned[6];       /* the keys' strings made here (a refresh replaces them) */
    /* The config file's region for the profile in use, and where it is (for messages); NULL
     * when it has none.  Found whatever the keys came from, as the AWS CLI's. */
    char *region, *region_from;
    /* A profile's credential_process, run again to refresh keys that expire; NULL. */
    char *process, *process_from;
} cli_creds;

/* Finds the keys, of the profile named by --profile when profile is not NULL: 0; 2 when they
 * are set wrongly, 1 when the endpoint that gives them failed (a sentence on stderr, after prog,
 * either way). */
int cli_creds_load(cli_creds *k, const char *prog, const char *profile);
/* Before a request: credentials of the container endpoint or a credential_process that expire within five minutes are
 * fetched again.  0, or 1 with a sentence on stderr. */
int cli_creds_fresh(cli_creds *k, const char *prog);
/* Lets go of what cli_creds_load made. */
void cli_creds_free(cli_creds *k);
#endif
