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

  Scenario: The test client is a consumer: it reads and runs operations but may not change a value set
    When I send a POST request to "${BASE_URL}/terminology/fhir/ValueSet/$validate-code" with the FHIR resource:
      """
      { "resourceType": "Parameters", "parameter": [
        { "name": "url", "valueUri": "http://hl7.org/fhir/ValueSet/administrative-gender" },
        { "name": "system", "valueUri": "http://hl7.org/fhir/administrative-gender" },
        { "name": "code", "valueCode": "male" } ] }
      """
    Then the response status is 200
    And the response JSON at "parameter.0.valueBoolean" is "true"
    When I send a PUT request to "${BASE_URL}/terminology/fhir/ValueSet/feature-consumer-write" with the FHIR resource:
      """
      { "resourceType": "ValueSet", "id": "feature-consumer-write", "url": "http://example.org/ValueSet/feature-consumer-write", "status": "active",
        "compose": { "include": [ { "system": "http://hl7.org/fhir/administrative-gender" } ] } }
      """
    Then the response status is 401
