# Corpus location for the MSP-IMPROV recipe. Override with --msp-improv-dir DIR or MSP_IMPROV=DIR in the environment.
# MSP-IMPROV is licence-gated (request it from the MSP lab, UT Dallas); point MSP_IMPROV at the release folder
# holding Evaluation.txt and session1 .. session6. Default: a copy beside the repository.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MSP_IMPROV="${MSP_IMPROV:-$(cd "$here/../../.." && pwd)/shared/data/MSP-IMPROV}"
MSP_IMPROV_SOURCE="licence-gated: request it from the MSP lab at https://ecs.utdallas.edu/research/researchlabs/msp-lab/"
