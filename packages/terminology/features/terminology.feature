Feature: Terminology service: code systems, value sets and maps, through the interoperability layer

  Background:
    Given I use basic auth as "${TERMINOLOGY_TEST_CLIENT_ID}" with password "${TERMINOLOGY_TEST_CLIENT_PASSWORD}"

  Scenario: The core R4 value sets expand and their codes validate
    When I send a GET request to "${BASE_URL}/terminology/fhir/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender"
    Then the response status is 200
    And the response JSON at "expansion.total" is "4"
    When I send a GET request to "${BASE_URL}/terminology/fhir/ValueSet/$validate-code?url=http://hl7.org/fhir/ValueSet/administrative-gender&system=http://hl7.org/fhir/administrative-gender&code=female"
    Then the response status is 200
    And the response JSON at "parameter.0.valueBoolean" is "true"

  Scenario: A clinic's local visit type maps to HL7 v3 ActCode for reporting
    When I send a GET request to "${BASE_URL}/terminology/fhir/ConceptMap/$translate?system=http://instant-openhie.org/fhir/CodeSystem/demo-clinic-visit-types&code=CAS"
    Then the response status is 200
    And the response body contains "EMER"
    When I send a GET request to "${BASE_URL}/terminology/fhir/CodeSystem/$subsumes?system=http://instant-openhie.org/fhir/CodeSystem/demo-clinic-visit-types&codeA=OPD&codeB=OPD-ANC"
    Then the response status is 200
    And the response body contains "subsumes"

  Scenario: An unknown code system is a 404 OperationOutcome
    When I send a GET request to "${BASE_URL}/terminology/fhir/CodeSystem/$lookup?system=http://example.org/no-such-system&code=x"
    Then the response status is 404
    And the response JSON at "resourceType" is "OperationOutcome"
