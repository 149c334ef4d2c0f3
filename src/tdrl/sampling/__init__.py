"""Sampling: N programs per problem from a policy, written as verifier samples."""
