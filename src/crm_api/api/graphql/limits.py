"""What one GraphQL document may cost: depth, aliases, and a complexity budget in which a
list multiplies what it selects by the page size asked for (`first`, default 50)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from crm_api.api.graphql.pagination import DEFAULT_PAGE_SIZE

CompositeType = GraphQLObjectType | GraphQLInterfaceType


class _CodedContext:
    """A validation context whose reported errors carry a stable `extensions.code`."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code, "status": 400}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


EMBEDDED: set[tuple[str, str]] = set()
"""(GraphQL type, field) of lists that are part of their record, not a fan-out to others."""


def embedded_lists(type_name: str, *fields: str) -> None:
    """Price these list fields of `type_name` as one: they arrive with the record."""
    EMBEDDED.update((type_name, field) for field in fields)


def _coded(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    class Coded(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodedContext(context, code))

    return Coded


class _Cost:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def of(self, selections: SelectionSetNode, parent: CompositeType, seen: frozenset[str]) -> int:
        """`seen`: the fragments being expanded (a cycle is the validator's to report)."""
        return sum(self._field(*found) for found in self._fields(selections, parent, seen))

    def _fields(
        self, selections: SelectionSetNode, parent: CompositeType, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, CompositeType, frozenset[str]]]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent, seen
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(
                    selection.selection_set, self._narrowed(selection, parent), seen
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    yield from self._fields(
                        fragment.selection_set, self._narrowed(fragment, parent), seen | {name}
                    )

    def _narrowed(
        self, fragment: InlineFragmentNode | FragmentDefinitionNode, parent: CompositeType
    ) -> CompositeType:
        if fragment.type_condition is None:
            return parent
        named = self.schema.get_type(fragment.type_condition.name.value)
        return named if isinstance(named, CompositeType) else parent

    def _field(self, node: FieldNode, parent: CompositeType, seen: frozenset[str]) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 1
        inner = get_named_type(definition.type)
        if node.selection_set is None or not isinstance(inner, CompositeType):
            return 1
        below = self.of(node.selection_set, inner, seen)
        return 1 + self._multiplier(node, definition.args, parent, definition.type) * below

    def _multiplier(
        self, node: FieldNode, args: Mapping[str, Any], parent: CompositeType, type_: Any
    ) -> int:
        if "first" in args:
            return self._first(node)
        if is_list_type(get_nullable_type(type_)):
            # A connection's edges are already paid for by its `first`; a list that is part of
            # its record (a quote's lines, its revisions) was loaded with it.
            if parent.name.endswith("Connection") or (parent.name, node.name.value) in EMBEDDED:
                return 1
            return DEFAULT_PAGE_SIZE
        return 1

    def _first(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 1)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return max(given, 1) if isinstance(given, int) else DEFAULT_PAGE_SIZE
        return DEFAULT_PAGE_SIZE


def document_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return 0
    return _Cost(schema, fragments, variables).of(operation.selection_set, root, frozenset())


def complexity_rule(budget: int, variables: Mapping[str, Any]) -> type[ValidationRule]:
    class ComplexityBudget(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            definitions = context.document.definitions
            fragments = {
                d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)
            }
            for operation in definitions:
                if not isinstance(operation, OperationDefinitionNode):
                    continue
                cost = document_cost(context.schema, operation, fragments, variables)
                if cost > budget:
                    context.report_error(
                        GraphQLError(
                            f"the query costs {cost}, over the budget of {budget}; "
                            "ask for smaller pages (first) or fewer nested lists",
                            operation,
                            extensions={"code": "query_too_complex", "status": 400, "cost": cost},
                        )
                    )

    return ComplexityBudget


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def no_nul_rule(variables: Mapping[str, Any]) -> type[ValidationRule]:
    """Text never holds NUL characters, in literals or variables: PostgreSQL cannot store them
    and nothing legitimate sends them (REST refuses them too: `invalid_characters`)."""
    extensions = {"code": "invalid_characters", "status": 400}

    class NoNulCharacters(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            if _holds_nul(variables):
                context.report_error(
                    GraphQLError("a variable contains a NUL character", extensions=extensions)
                )

        def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
            if "\x00" in node.value:
                self.context.report_error(
                    GraphQLError("a string contains a NUL character", node, extensions=extensions)
                )

    return NoNulCharacters


class Limits(SchemaExtension):
    """Depth, aliases and the complexity budget from the app's settings, per operation, so that
    `first: $n` is priced with the value sent."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        settings = context.context.services.settings
        context.validation_rules = (
            *context.validation_rules,
            *(
                _coded(rule, "query_too_deep")
                for rule in QueryDepthLimiter(settings.graphql_max_depth).validation_rules
            ),
            *(
                _coded(rule, "too_many_aliases")
                for rule in MaxAliasesLimiter(settings.graphql_max_aliases).validation_rules
            ),
            complexity_rule(settings.graphql_max_complexity, context.variables or {}),
            no_nul_rule(context.variables or {}),
        )
        yield
